"""Tools that check pdeml itself: the robustness fuzz suite and its signal tests.

They live in the package (as scikit-learn's estimator checks do) so that the test suite and
``validation/benchmarks/robustness.py`` run the same cases without importing a script by path.
"""
