"""Downloads an analyst takes away: estimate tables and a wave's microdata.

``tables`` turns an estimate job's result into sheets (XLSX) and a Stata file;
``microdata`` turns a wave's responses into CSV, XLSX or Stata with a codebook.
``stata`` and ``sheets`` hold the format rules both share, without Django.
"""
