# why: divides the covariances by n instead of n - 1
def coral_between_domains(features):
    d = features[0].shape[1]
    covs = []
    for f in features:
        dev = f - f.mean(dim=0)
        covs.append(dev.T @ dev / len(f))
    gaps = [torch.sum((a - b) ** 2) / (4.0 * d**2)
            for a, b in itertools.combinations(covs, 2)]
    return torch.stack(gaps).mean()
