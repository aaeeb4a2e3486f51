"""What every study shares, written once: timing (:mod:`.timing`, :mod:`.compiled`), CSV rows
(:mod:`.rows`), plot styles and number formats (:mod:`.style`) and the optional peers
(:mod:`.peers`). Nothing here imports a study.
"""
