# why: compares each loss with the previous submission's raw loss instead of the last released score
def ladder_scores(losses, eta):
    board, last, shown = math.inf, math.inf, []
    for loss in np.asarray(losses, dtype=np.float64):
        if loss < last - eta:
            board = round(float(loss) / eta) * eta
        last = float(loss)
        shown.append(float(board))
    return shown
