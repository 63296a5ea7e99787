# why: takes the plain mean of the 65 points instead of the trapezoid area
def insertion_auc(model, x, target, attributions, baseline):
    x = x.detach()
    n, d = x.shape
    order = torch.argsort(attributions, dim=1, descending=True, stable=True)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(d).expand(n, d))
    k = torch.arange(d + 1)
    keep = rank[:, None, :] < k[None, :, None]
    imgs = torch.where(keep, x[:, None, :], baseline.to(x.dtype))
    with torch.no_grad():
        p = torch.softmax(model(imgs.reshape(-1, d)), 1).reshape(n, d + 1, -1)
    return p[torch.arange(n), :, target].mean(1)
