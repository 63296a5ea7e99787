"""L13: membership inference, canaries, DP-SGD and its accountant, unlearning."""
