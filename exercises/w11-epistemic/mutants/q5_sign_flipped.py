# why: uses +MI as the ID score, so more epistemic uncertainty looks more ID
def mi_ood_auroc(stack_id, stack_ood):
    def mi(stack):
        p = torch.as_tensor(stack, dtype=torch.float64)
        xlogx = lambda q: torch.where(q > 0, q * torch.log(q), 0.0)  # noqa: E731
        total = -xlogx(p.mean(0)).sum(1)
        aleatoric = -xlogx(p).sum(2).mean(0)
        return total - aleatoric

    s_id, s_ood = mi(stack_id), mi(stack_ood)
    wins = (s_id[:, None] > s_ood[None, :]).double()
    ties = (s_id[:, None] == s_ood[None, :]).double()
    return float((wins + 0.5 * ties).mean())
