# why: computes the deletion curve (removes pixels from x) instead of inserting them
def insertion_auc(model, x, target, attributions, baseline):
    x = x.detach()
    n, d = x.shape
    order = torch.argsort(attributions, dim=1, descending=True, stable=True)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(d).expand(n, d))
    k = torch.arange(d + 1)
    removed = rank[:, None, :] < k[None, :, None]
    imgs = torch.where(removed, baseline.to(x.dtype), x[:, None, :])
    with torch.no_grad():
        p = torch.softmax(model(imgs.reshape(-1, d)), 1).reshape(n, d + 1, -1)
    curve = p[torch.arange(n), :, target]
    return ((curve[:, 1:] + curve[:, :-1]) / 2).sum(1) / d
