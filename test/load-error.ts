// For the native tests of load failures; kept out of helpers.ts so the unit tier never imports the package.
import { loadModel, type LoadModelOptions } from '@org/torch-gen';

/** Loads `dir` on the CPU and returns the error it fails with; fails the test if the load succeeds. */
export async function loadError(dir: string, options: LoadModelOptions = {}): Promise<Error> {
  let model;
  try {
    model = await loadModel(dir, { device: 'cpu', ...options });
  } catch (error) {
    return error as Error;
  }
  await model.dispose();
  throw new Error(`expected loadModel(${dir}) to fail, but it loaded`);
}
