"""Tools for pathway authors, outside the production path.

- ``timeline``: replay a dated list of events for one made-up patient in memory
  (``parcours run``);
- ``scenarios``: scenario tests in YAML, run through the real ``CaseService`` on a
  throw-away database (``parcours test``): ``model`` (the file format), ``world``
  (the database, patient and care team), ``checks`` (expectations), ``runner``;
- ``simulate`` + ``lifecycle``: cohort simulation in memory (``parcours simulate``);
- ``synthetic``: the synthetic population model (values, frequencies, delays)
  shared by the simulator, the demo territory and the benchmarks.

The production path (case service, the daily flows, the web) never imports this package;
the demo (``parcours demo``) does, for its synthetic territory.
"""
