import { setFlagsFromString } from 'node:v8';

/**
 * Imported first by main.ts, before anything allocates on the request path.
 *
 * V8's allocation-site pretenuring: when most objects from one allocation site survive a
 * young-generation GC, V8 allocates that site's objects in the old generation from then on.
 * A crowd arriving at a freshly started process (256 requests in flight while the code is
 * still cold) can tip request-path sites over that line; every later request's objects then
 * go straight to the old generation, each scavenge promotes ~12 MB instead of ~0 and lasts
 * ~13-20 ms instead of ~1, and full GCs come every few seconds. Measured: 4 of 16 fresh
 * processes entered that state under wrk and stayed in it, at ~30% more CPU per liveness
 * request (performance.md, "The slow state: pretenured request objects").
 */
setFlagsFromString('--no-allocation-site-pretenuring');
