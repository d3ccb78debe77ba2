"""The engine against NumPy and PyTorch references of one workload (RESULTS.md, GPU.md).

A package, so that its modules (report, check, measure, ...) are imported as
`benchmarks.<name>` and never shadow an installed module of the same name. Run its
scripts from the repository root as modules: `python -m benchmarks.run` (`make bench`),
`python -m benchmarks.gpu`, `python -m benchmarks.fresh_clone`.
"""
