"""``kq completion bash|zsh|fish``: the shell completion script (click's, driven by ``_KQ_COMPLETE``)."""
from __future__ import annotations

import click

from ..errors import ExitStatus
from ..i18n import _

SHELLS = ("bash", "zsh", "fish")


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell):
    """Print the completion script of SHELL for kq: commands, options and choices complete on Tab.

    \b
    bash:  eval "$(kq completion bash)"        (in ~/.bashrc)
    zsh:   eval "$(kq completion zsh)"         (in ~/.zshrc)
    fish:  kq completion fish > ~/.config/fish/completions/kq.fish
    """
    from click.shell_completion import get_completion_class

    from .. import i18n
    from . import cli

    i18n.patch_click()                 # click's shell_completion module has just been loaded
    cls = get_completion_class(shell)
    if cls is None:                    # click.Choice has checked the name; a click without the shell
        raise click.UsageError(_("{shell}: this click has no completion for it").format(shell=shell))
    click.echo(cls(cli, {}, "kq", "_KQ_COMPLETE").source())
    return ExitStatus.OK
