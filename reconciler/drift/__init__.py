"""What changed outside ehkeys: the drift report, health warnings, unmanaged keys seen before."""
