from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from dashboards import queries


@login_required
def home(request):
    return render(request, "dashboards/home.html", {"regions": queries.list_regions()})
