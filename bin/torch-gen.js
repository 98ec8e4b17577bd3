#!/usr/bin/env node
// The torch-gen command line; the commands live in lib/cli/ (compiled to dist/cli/).
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
