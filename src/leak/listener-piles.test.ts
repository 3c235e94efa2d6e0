import assert from 'node:assert/strict';
import { join, sep } from 'node:path';
import { test } from 'node:test';
import { isListenerPile, LIBRARY_PILE } from './listener-piles.js';
import type { Frame } from './stack-frames.js';

const app = join(process.cwd(), 'app', 'server.js');
const pg = `${sep}srv${sep}node_modules${sep}pg${sep}lib${sep}connection.js`;
const frame = (file: string, line: number): Frame => ({ fn: 'f', file, line, column: 1 });

test("a library's fixed listeners are not a pile-up; the application's repeated line is", () => {
  // pg attaches two 'end' listeners to each socket from one line: normal, not growth.
  const fromPg = [frame(pg, 120), frame(app, 10)];
  assert.equal(isListenerPile(2, fromPg), false);
  assert.equal(isListenerPile(LIBRARY_PILE - 1, fromPg), false);
  assert.equal(isListenerPile(LIBRARY_PILE, fromPg), true, "past Node's max-listeners warning it is");
  // The application's own line attaching twice to one emitter and event has run once too often.
  assert.equal(isListenerPile(1, [frame(app, 10)]), false);
  assert.equal(isListenerPile(2, [frame(app, 10)]), true);
});
