// Tests that trigger a process warning on purpose observe it through their own 'warning' listener,
// but Node's built-in listener would still print it, stack and all, into a green run's output.
// quietWarnings(type) wraps the listeners present now (Node's printer among them) so that they skip
// warnings of that one type; every other warning still prints. Call it once at the top of a test
// file (each file runs in its own process); the returned function restores the listeners.
export function quietWarnings(type: string): () => void {
  const originals = process.listeners('warning');
  const wrapped = originals.map((listener) => (warning: Error) => {
    if (warning.name !== type) listener.call(process, warning);
  });
  for (const l of originals) process.removeListener('warning', l);
  for (const w of wrapped) process.on('warning', w);
  return () => {
    for (const w of wrapped) process.removeListener('warning', w);
    for (const l of originals) process.on('warning', l);
  };
}
