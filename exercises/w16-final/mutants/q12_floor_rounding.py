# why: rounds the released loss down to a multiple of eta (floor) instead of to the nearest multiple
def ladder_scores(losses, eta):
    board, shown = math.inf, []
    for loss in np.asarray(losses, dtype=np.float64):
        if loss < board - eta:
            board = math.floor(float(loss) / eta) * eta
        shown.append(float(board))
    return shown
