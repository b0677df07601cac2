from django.urls import path

from gongzhi.deliberation import resident_views, views

app_name = "deliberation"

urlpatterns = [
    # staff
    path("", views.home, name="home"),
    path("proposals/", views.proposal_list, name="proposals"),
    path("proposals/<int:pk>/", views.proposal_detail, name="proposal"),
    path("threshold/", views.agenda_threshold, name="threshold"),
    path("matters/new/", views.matter_new, name="matter_new"),
    path("matters/<int:pk>/", views.matter_detail, name="matter"),
    path("matters/<int:pk>/steps/<str:code>/", views.record_step, name="record_step"),
    path("matters/<int:pk>/close/", views.matter_close, name="matter_close"),
    path("matters/<int:pk>/tasks/", views.task_add, name="task_add"),
    path("tasks/<int:pk>/done/", views.task_done, name="task_done"),
    path("matters/<int:pk>/votes/new/", views.vote_new, name="vote_new"),
    path("votes/<int:pk>/", views.vote_detail, name="vote"),
    path("votes/<int:pk>/open/", views.vote_open, name="vote_open"),
    path("votes/<int:pk>/close/", views.vote_close, name="vote_close"),
    path("votes/<int:pk>/electors/", views.electors, name="electors"),
    path("votes/<int:pk>/sign-in/", views.sign_in, name="sign_in"),
    path("votes/<int:pk>/paper/", views.paper_ballots, name="paper"),
    path("votes/<int:pk>/ballot.pdf", views.ballot_pdf, name="ballot_pdf"),
    path("votes/<int:pk>/result.pdf", views.result_pdf, name="result_pdf"),
    path("files/<int:pk>/", views.attachment, name="attachment"),
    # residents
    path("my/", resident_views.home, name="resident_home"),
    path("my/propose/", resident_views.propose, name="resident_propose"),
    path("my/proposals/<int:pk>/", resident_views.proposal, name="resident_proposal"),
    path("my/proposals/<int:pk>/photo/", resident_views.proposal_photo, name="resident_proposal_photo"),
    path("my/matters/<int:pk>/", resident_views.matter, name="resident_matter"),
    path("my/votes/<int:pk>/", resident_views.vote, name="resident_vote"),
    # anyone holding a receipt code
    path("receipt/", resident_views.receipt, name="receipt"),
]
