"""Run an experiments file as a SLURM sbatch array.

``planfile`` cuts the missing work of a plan into array-task slices and writes them as
JSON; ``render`` turns options into sbatch text (a pure function, golden-tested);
``submit`` writes a submission folder under the store and calls ``sbatch``; ``task`` is
what one array task runs; ``queue`` reads submissions back and asks SLURM how they are
doing. No JAX here.
"""
