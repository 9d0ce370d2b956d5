"""One module per built-in input format; :mod:`moderation.io.registry` registers them.

- :mod:`~moderation.io.readers.scrape`: scraped page text (posts glued together);
- :mod:`~moderation.io.readers.dat`: 2ch/5ch ``.dat`` threads;
- :mod:`~moderation.io.readers.html`: saved thread pages;
- :mod:`~moderation.io.readers.tabular`: comments already split, JSON Lines and CSV/TSV.
"""
