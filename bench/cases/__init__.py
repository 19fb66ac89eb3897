"""The benchmark's cases, in the order of issue 10; each module's ``run(run)`` adds its figures."""
