"""One screen per module: targets, target, run, compare, launch, help."""
