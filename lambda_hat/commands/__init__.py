"""One module per ``lambda-hat`` subcommand: ``add_arguments(parser)`` and ``run(args)``.

No JAX at module level: ``lambda-hat --help`` and the browsing commands start fast.
"""
