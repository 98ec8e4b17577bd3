// Load options that the native CUDA work adds, probed rather than assumed, so the GPU benchmark and tests
// run against a build with or without them and say which.
import { loadModel, OptionError } from '@org/torch-gen';

/** The loadModel option that turns on CUDA-graph capture of the decode step (being added natively). */
export const CUDA_GRAPHS_OPTION = 'cudaGraphs';

/**
 * Whether loadModel() knows the option `name`. It is asked with a value no option accepts (a string that
 * names no setting): an unknown option is refused as "unknown option `name`", a known one as a bad value,
 * and both are refused before any weights are read.
 */
export async function acceptsLoadOption(modelDir, name) {
  try {
    const model = await loadModel(modelDir, { device: 'cpu', [name]: 'probe: not a valid value' });
    await model.dispose(); // it took even this value: it knows the option
    return true;
  } catch (error) {
    if (!(error instanceof OptionError)) throw error;
    return !error.message.includes(`unknown option \`${name}\``);
  }
}
