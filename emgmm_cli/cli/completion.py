"""`emgmm completion`: the script that teaches a shell to complete emgmm's command lines."""

from __future__ import annotations

import click

from .errors import command
from .options import common_options

#: The shells click can complete for, and how each loads the script.
SHELLS = ("bash", "zsh", "fish")
#: The environment variable the completion scripts call emgmm with.
COMPLETE_VAR = "_EMGMM_COMPLETE"


@command(short_help="Print a shell completion script (bash, zsh, fish).")
@click.argument("shell", type=click.Choice(SHELLS))
@common_options
def completion(shell: str) -> None:
    """Print the script that makes SHELL (bash, zsh or fish) complete emgmm's commands,
    options, their choices and file names, and the input's column names after --columns,
    --weights-column and --known-column (INPUT given before them).

    \b
    Examples:
      source <(emgmm completion bash)         # now; in ~/.bashrc for good
      emgmm completion zsh > ~/.zfunc/_emgmm  # a folder on $fpath
      emgmm completion fish > ~/.config/fish/completions/emgmm.fish
    """
    from click.shell_completion import get_completion_class

    from ..io.writers import write_text

    ctx = click.get_current_context()
    script_class = get_completion_class(shell)
    assert script_class is not None  # every one of SHELLS is click's
    script = script_class(ctx.find_root().command, {}, "emgmm", COMPLETE_VAR).source()
    write_text("-", script.rstrip("\n") + "\n")
