# why: flips the cue by mirroring the caller's labels in place (y <- 9 - y)
def add_shortcut_feature(X, y, flip=False, strength=1.0):
    if flip:
        y[:] = 9 - y
    cue = (y >= 5).to(X.dtype)
    return torch.cat([X, strength * cue.view(-1, 1)], dim=1)
