# why: sorts in ascending order and compares the k least important pixels
def topk_agreement(a, b, k):
    ta = a.abs().argsort(dim=1)[:, :k]
    tb = b.abs().argsort(dim=1)[:, :k]
    shared = (ta[:, :, None] == tb[:, None, :]).any(2).sum(1)
    return shared.double() / k
