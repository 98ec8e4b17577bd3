import { debuglog } from 'node:util';

/** Library code never writes to stdout; `NODE_DEBUG=torch-gen` shows these lines on stderr. */
export const debug = debuglog('torch-gen');
