/**
 * process.exit() on the main thread skips the environment's cleanup hooks (which stop engine threads at a
 * normal exit and at worker termination), and exit() then destroys libtorch's static state while an engine
 * thread may still be running a forward pass: a use-after-free that AddressSanitizer reports. The 'exit'
 * event still fires first, so every live engine is stopped there, synchronously.
 */
import type { NativeModel } from './native.js';

const live = new Set<WeakRef<NativeModel>>();
const registry = new FinalizationRegistry<WeakRef<NativeModel>>((ref) => live.delete(ref));
let installed = false;

export function stopAtExit(native: NativeModel): void {
  if (!installed) {
    process.on('exit', () => {
      for (const ref of live) ref.deref()?.stopNow();
    });
    installed = true;
  }
  const ref = new WeakRef(native);
  live.add(ref);
  registry.register(native, ref);
}
