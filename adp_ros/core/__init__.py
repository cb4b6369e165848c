"""ROS-free, torch-free logic: gate, ring buffer, token budgets, FLOPs, parameters, safety, synchronisation."""
