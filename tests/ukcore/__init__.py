"""UK Core R4 expectations written by hand from the published profiles, and rules that check
mapped resources against them.

Nothing here imports the mapping tables (``mappings/``) or the engine (``facade/mapping/``):
an expectation copied from the table under test could never fail.
"""
