"""The largest numbers a service's settings may hold, and the days its data may name.

An IDVA team has a handful of people, a case lasts months, a referral surge doubles or
triples demand: every number in ``service.yaml`` and ``scenarios.yaml`` has a range far
wider than any real service needs and far narrower than what breaks the arithmetic (a
``staff`` past 64 bits overflows, an ``every_days`` of a billion asks NumPy for terabytes).
Numbers must also be finite: ``.inf`` and ``.nan`` are refused where they are read. The
``flowcap init`` template states each range beside its setting.
"""

from __future__ import annotations

from datetime import date

#: People (FTE) at one resource, or moved, booked, recruited or left vacant by one change.
MAX_STAFF = 100_000
#: The least urgent priority (1 is the most urgent).
MAX_PRIORITY = 100
#: Minutes of one person's time one step (one occurrence) or one logged event stands for:
#: about a month of a full-time person's working days.
MAX_STEP_MINUTES = 10_000
#: Occurrences of one repeated step.
MAX_REPEAT = 1_000
#: Calendar days any setting may count (a step's delay and interval, the last step's day
#: after the referral, lead, handover, induction and booking days): 10 years.
MAX_DAYS = 3_653
#: Mean new cases per calendar day of one case type (a demand model).
MAX_CASES_PER_DAY = 10_000
#: Mean referrals per hour of one case type (the pathway's arrivals).
MAX_ARRIVALS_PER_HOUR = 1_000
#: What a demand change may multiply a case type's demand by.
MAX_DEMAND_FACTOR = 1_000
#: A random duration's mean, sd or values (service minutes, patience days).
MAX_DURATION = 1_000_000
#: A weekday or hour profile's weights (they are normalised to average 1).
MAX_PROFILE_WEIGHT = 1_000_000
#: Pounds: a person-hour, an agency person's day, a recruit's year.
MAX_COST_PER_HOUR = 10_000
MAX_DAY_RATE = 100_000
MAX_SALARY = 10_000_000
#: A pay premium (overtime's multiple of the hourly cost).
MAX_PREMIUM = 10
#: A target on an SPC chart (minutes or referrals a day or a week).
MAX_SPC_TARGET = 1_000_000_000
#: The first and last day a data file or a scenario may name. Wide enough for any service's
#: history and plans, narrow enough that the measures' daily arrays stay small and every
#: date plus the longest horizon ahead stays within pandas' nanosecond range (1677 to 2262).
FIRST_DATE = date(1900, 1, 1)
LAST_DATE = date(2200, 12, 31)
