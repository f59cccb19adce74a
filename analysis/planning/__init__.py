"""Planning the next wave of a list experiment: precision, sample size, rehearsal.

Pure functions over plain data and numpy arrays, no Django and no I/O, so that the
command line, the planner page and the tests compute the same numbers:

- `analysis.planning.power`: closed forms for the difference in means (standard
  error, minimum detectable effect, power, the sample needed for a target);
- `analysis.planning.rehearsal`: synthetic waves drawn from a plan and analysed with
  the project's estimators, to check bias, coverage and power by simulation;
- `analysis.planning.control_check`: what a pilot's control list costs in precision
  and whether its counts pile up at 0 or J.
"""
