"""``lambda-hat tui``: the terminal app to browse a store and launch experiments."""

from __future__ import annotations

HELP = "browse a store and launch experiments in a terminal app"


def add_arguments(p) -> None:
    p.add_argument("--root", default="runs", help="store root (default: runs)")
    p.add_argument(
        "--experiments-dir",
        default="experiments",
        help="folder listed on the launch screen (default: experiments)",
    )
    p.add_argument(
        "--images",
        choices=("halfcell", "auto", "unicode", "none"),
        default="halfcell",
        help="how diagnostic PNGs are drawn: coloured half cells (default, any truecolor "
        "terminal), auto (sixel or kitty graphics when the terminal has them; probing it "
        "adds about a second to startup), unicode, or none",
    )


def run(args) -> int:
    from lambda_hat.tui.launch import prepare_process_spawning

    # Processes can only be started from inside Textual once the tracker runs.
    prepare_process_spawning()
    if args.images == "auto":
        # textual-image asks the terminal what it supports; that only works before Textual
        # takes over stdin, so import it now.
        import textual_image.widget  # noqa: F401

    from lambda_hat.tui.app import LambdaHatApp

    LambdaHatApp(args.root, args.experiments_dir, args.images).run()
    return 0
