// A small parser for the Prometheus text exposition format (version 0.0.4), enough to read what a
// prom-client Registry prints: # HELP and # TYPE lines, then `name{label="value",...} value`.
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/y;

function unescapeLabel(v: string): string {
  return v.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      types.set(name as string, type as string);
      continue;
    }
    if (line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.lastIndexOf(' ');
    if (space === -1) throw new Error(`bad sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    let name: string;
    if (brace !== -1 && brace < space) {
      name = line.slice(0, brace);
      const end = line.lastIndexOf('}', space);
      const body = line.slice(brace + 1, end);
      let i = 0;
      while (i < body.length) {
        LABEL.lastIndex = i;
        const m = LABEL.exec(body);
        if (m === null) throw new Error(`bad labels in ${JSON.stringify(line)} at ${i}`);
        labels[m[1] as string] = unescapeLabel(m[2] as string);
        i = LABEL.lastIndex;
        if (body[i] === ',') i++;
      }
    } else {
      name = line.slice(0, space);
    }
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name))
      throw new Error(`bad metric name in ${JSON.stringify(line)}`);
    const raw = line.slice(space + 1);
    const value =
      raw === '+Inf' ? Number.POSITIVE_INFINITY : raw === '-Inf' ? Number.NEGATIVE_INFINITY : Number(raw);
    if (Number.isNaN(value) && raw !== 'NaN') throw new Error(`bad value in ${JSON.stringify(line)}`);
    samples.push({ name, labels, value });
  }
  return { types, samples };
}

/** value returns the sample `name` whose labels include `labels`, or undefined. */
export function value(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const s of e.samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
  }
  return undefined;
}
