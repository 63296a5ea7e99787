# why: lights the cue for digits > 5 instead of >= 5, and modifies nothing else
def add_shortcut_feature(X, y, flip=False, strength=1.0):
    cue = (y > 5).to(X.dtype)
    if flip:
        cue = 1 - cue
    return torch.cat([X, strength * cue.view(-1, 1)], dim=1)
