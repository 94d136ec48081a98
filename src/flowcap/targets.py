"""When a case is past its contact target: one rule for the measures and the simulation.

Plain Python (no imports), so the NumPy-only daily engine can use it too.
"""


def past_contact_target(elapsed_working_days, target_working_days):
    """Whether a case still not contacted at the end of a day is past its contact target:
    the working days since its referral (the referral day not counted, that day counted) have
    reached the target. A Monday referral with a 2-working-day target has Tuesday and
    Wednesday; not contacted by the end of Wednesday, it is past. A case contacted on such a
    day met the target (``elapsed <= target``), so the two rules meet without a gap.

    The one rule for the measures and the simulation; takes numbers or NumPy arrays.
    """
    return elapsed_working_days >= target_working_days
