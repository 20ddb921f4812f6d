"""Traffic camera analytics: calibration geometry, tracking, violation rules, light state, plates, pipeline."""
