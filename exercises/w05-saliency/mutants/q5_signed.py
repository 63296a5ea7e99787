# why: ranks by the signed attribution, so large negative attributions are ignored
def topk_agreement(a, b, k):
    ta = a.topk(k, dim=1).indices
    tb = b.topk(k, dim=1).indices
    shared = (ta[:, :, None] == tb[:, None, :]).any(2).sum(1)
    return shared.double() / k
