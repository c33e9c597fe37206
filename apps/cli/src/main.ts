#!/usr/bin/env node
import { run } from './cli.js';

const code = await run(process.argv.slice(2), {
  env: process.env,
  out: (text) => void process.stdout.write(`${text}\n`),
  err: (text) => void process.stderr.write(`${text}\n`),
});
process.exitCode = code;
