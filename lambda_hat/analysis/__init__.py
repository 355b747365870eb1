"""Host-side analysis: traces -> ArviZ data, ESS/R-hat/MCSE, LLC summary, plots."""
