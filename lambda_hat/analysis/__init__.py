"""Host-side analysis: ESS / R-hat / MCSE (ArviZ's estimators, in numpy), the LLC summary,
trace.nc (ArviZ's format, written with h5netcdf) and plots."""
