"""CDS Hooks 2.0.1: the EHR asks for advice (patient-view, order-sign) and reports what the clinician did with it."""
