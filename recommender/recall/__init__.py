"""Recall (issue 16, items 3–5): the patients who fell through the gaps, the contact attempts and letters that
bring them back, and the clinic's dashboard. Sits above appointments, clinic and injections, below home."""
