"""One module per built-in input format; :mod:`moderation.io.registry` registers them.

- :mod:`~moderation.io.readers.scrape`: scraped page text (posts glued together);
- :mod:`~moderation.io.readers.dat`: ``.dat`` threads (2ch/5ch, 0ch, bbspink, shitaraba, machi);
- :mod:`~moderation.io.readers.html`: saved thread pages of any known layout, ``meta`` for the others;
- :mod:`~moderation.io.readers.fivech`, :mod:`~moderation.io.readers.open2ch`,
  :mod:`~moderation.io.readers.shitaraba`, :mod:`~moderation.io.readers.futaba`,
  :mod:`~moderation.io.readers.matome`: one board family's pages each (over :mod:`moderation.io.page`);
- :mod:`~moderation.io.readers.json_export`: JSON comment exports (a field mapping, Reddit's listing JSON);
- :mod:`~moderation.io.readers.tabular`: comments already split, JSON Lines and CSV/TSV.
"""
