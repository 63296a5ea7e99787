# why: divides by the number of pixels instead of k
def topk_agreement(a, b, k):
    ta = a.abs().topk(k, dim=1).indices
    tb = b.abs().topk(k, dim=1).indices
    shared = (ta[:, :, None] == tb[:, None, :]).any(2).sum(1)
    return shared.double() / a.shape[1]
