# why: bins half-open the other way, [lo, hi), so on-edge confidences move up a bin
def ece_right_closed(probs, y, n_bins=15):
    p = torch.as_tensor(probs, dtype=torch.float64)
    y = torch.as_tensor(y).long()
    conf, pred = p.max(dim=1)
    correct = (pred == y).double()
    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)
    b = torch.bucketize(conf, edges[1:-1], right=True)
    total = 0.0
    for k in range(n_bins):
        inb = b == k
        if inb.any():
            gap = (correct[inb].mean() - conf[inb].mean()).abs()
            total += float(inb.double().mean() * gap)
    return total
