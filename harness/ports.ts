/** The harness's loopback ports come from the project's one free-port helper. */
export { freePorts, LOOPBACK, MAX_PORTS_PER_CALL } from '../src/net/free-ports.ts';
