#!/usr/bin/env node
import { run } from './cli.js';

// `supervisor runs list | head -1`: the reader has gone, which is not an error of ours
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(0);
});

const code = await run(process.argv.slice(2), {
  env: process.env,
  out: (text) => void process.stdout.write(`${text}\n`),
  err: (text) => void process.stderr.write(`${text}\n`),
});
process.exitCode = code;
