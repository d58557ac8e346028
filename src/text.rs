//! Text normalisation and tokenising shared by the matcher and KB search (stub).
