"""The one exception type a user of the exporter should ever see."""


class ExportError(Exception):
    """A problem with the user's input (source, options, output directory), told in one line.

    The message names the file, option or config field at fault and, where there is one, what to do.
    `python -m torch_gen_export` prints it without a traceback and exits with status 2.
    """
