"""`engine-run` over a library on Ray: one analysis actor per GPU (or per worker on CPU nodes)
holds the models, films go to idle actors, each result lands in the output folder when its film
is done, and a journal there makes the run resumable. Ray is the optional `cluster` extra."""
